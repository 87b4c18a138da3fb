//! Compile-fail and compile-pass tests of the macros: each mistake must give a spanned
//! error that says what to write instead (expected output beside each file).

#[test]
fn macros() {
    let t = trybuild::TestCases::new();
    t.pass("tests/*/pass/*.rs");
    t.compile_fail("tests/*/fail/*.rs");
}
