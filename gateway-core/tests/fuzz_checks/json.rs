//! `json_value`: the engine's own JSON reader and writer for [`AnyValue`]
//! (`gateway-core/src/socketio/value_json.rs`) against serde_json.

use bytes::Bytes;
use gateway_core::socketio::{AnyValue, Args, Payload};
use serde_json::value::RawValue;

/// The attachments that binary placeholders in the input may name.
fn attachments() -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"\x00\xff"),
        Bytes::from_static(b"second"),
    ]
}

/// Reads `data` as one JSON value with the engine's reader (reached the way received
/// arguments reach it: `[data]` split by [`Args::parse_ack`], its one element read by
/// [`Args::get_any`]) and with serde_json, and asserts:
///
/// - the argument splitter splits `[data]` exactly as serde_json does (same elements,
///   byte for byte, or both refuse), and an input that is not one JSON value never splits
///   into exactly one argument;
/// - both readers accept or both refuse it (`serde_json::from_slice::<AnyValue>`);
/// - accepted, both give the same value: equal to serde_json's `AnyValue` and to
///   serde_json's own `Value` (numbers exactly: floats are correctly rounded on both
///   sides), and to `Args::get::<AnyValue>`; where serde_json's `Value` reads a document
///   the engine refuses, the engine's reason is a binary placeholder whose `num` is no
///   index;
/// - the same holds one level deeper ([`Args::get_all_any`] against `Args::get_all`),
///   and with attachments for the placeholders to name;
/// - the writer ([`Payload::from_any`]) writes exactly what serde_json writes for the
///   `Value`, and what `Payload::from_serialize` writes for the `AnyValue` (binary
///   values as numbered placeholders, one attachment each); its output read back
///   ([`Payload::to_any`], and serde_json) is the value written.
pub fn check_value(data: &[u8]) {
    let shown = String::from_utf8_lossy(data);
    let serde_any = serde_json::from_slice::<AnyValue>(data);
    let serde_value = serde_json::from_slice::<serde_json::Value>(data);

    let mut array = Vec::with_capacity(data.len() + 2);
    array.push(b'[');
    array.extend_from_slice(data);
    array.push(b']');
    // The argument splitter (gateway-core's JSON scanner) splits `[data]` as serde_json
    // does.
    let split = Args::parse_ack(Bytes::copy_from_slice(&array));
    let serde_split = serde_json::from_slice::<Vec<&RawValue>>(&array);
    match (&split, &serde_split) {
        (Ok(args), Ok(items)) => {
            let raws: Vec<&str> = (0..args.len()).filter_map(|i| args.raw(i)).collect();
            let items: Vec<&str> = items.iter().map(|item| item.get()).collect();
            assert_eq!(raws, items, "{shown:?}");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("{shown:?}: the splitter gives {split:?}, serde_json {serde_split:?}"),
    }
    let Some(mut args) = split.ok().filter(|args| args.len() == 1) else {
        assert!(
            serde_value.is_err() && serde_any.is_err(),
            "{shown:?}: not one argument, yet serde_json reads it"
        );
        return;
    };

    let ours = args.get_any(0);
    match (&ours, &serde_any) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{shown:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{shown:?}: the engine gives {ours:?}, serde_json {serde_any:?}"),
    }
    match (&ours, &serde_value) {
        (Ok(a), Ok(v)) => assert_eq!(*a, AnyValue::from(v.clone()), "{shown:?}"),
        (Ok(_), Err(e)) => panic!("{shown:?}: serde_json refuses it as a Value: {e}"),
        (Err(e), Ok(_)) => assert!(
            e.to_string().contains("invalid placeholder"),
            "{shown:?}: the engine refuses what serde_json reads as a Value: {e}"
        ),
        (Err(_), Err(_)) => {}
    }
    readers_agree(&args, &ours, &shown);

    if let (Ok(plain), Ok(value)) = (&ours, &serde_value) {
        let written = Payload::from_any(plain);
        let expected = serde_json::to_string(value).expect("a Value always serializes");
        assert_eq!(written.json(), expected, "{shown:?}");
        assert!(written.attachments().is_empty());
        let reread: serde_json::Value =
            serde_json::from_str(written.json()).expect("the writer wrote JSON");
        assert_eq!(&reread, value, "{shown:?}");
        assert_eq!(&written.to_any(), plain, "{shown:?}");
    }

    args.set_attachments(attachments());
    let with = args.get_any(0);
    assert_eq!(with.is_ok(), ours.is_ok(), "{shown:?}");
    readers_agree(&args, &with, &shown);
    if let Ok(value) = &with {
        let written = Payload::from_any(value);
        assert_eq!(
            Some(&written),
            Payload::from_serialize(value).as_ref().ok(),
            "{shown:?}"
        );
        assert_eq!(written.attachments().len(), binaries(value), "{shown:?}");
        if has_placeholder_object(value) {
            // An object shaped like a placeholder that named no attachment is written as
            // it is, and may name one of the renumbered attachments when read back.
            serde_json::from_str::<serde_json::Value>(written.json())
                .expect("the writer wrote JSON");
        } else {
            assert_eq!(&written.to_any(), value, "{shown:?}");
        }
    }
}

/// How many binary values `value` holds.
fn binaries(value: &AnyValue) -> usize {
    match value {
        AnyValue::Binary(_) => 1,
        AnyValue::Array(items) => items.iter().map(binaries).sum(),
        AnyValue::Object(map) => map.values().map(binaries).sum(),
        _ => 0,
    }
}

/// Whether `value` holds an object that reads as a binary placeholder when its `num`
/// names an attachment.
fn has_placeholder_object(value: &AnyValue) -> bool {
    match value {
        AnyValue::Array(items) => items.iter().any(has_placeholder_object),
        AnyValue::Object(map) => {
            (map.len() == 2
                && map.get("_placeholder") == Some(&AnyValue::Bool(true))
                && matches!(map.get("num"), Some(AnyValue::Number(_))))
                || map.values().any(has_placeholder_object)
        }
        _ => false,
    }
}

/// The direct `AnyValue` reader (`get_any`, `get_all_any`) gives what serde's
/// `AnyValue` deserializer gives, for the first argument and for all of them.
fn readers_agree<E>(args: &Args, first: &Result<AnyValue, E>, shown: &impl std::fmt::Debug) {
    assert_eq!(
        first.as_ref().ok(),
        args.get::<AnyValue>(0).as_ref().ok(),
        "{shown:?}"
    );
    assert_eq!(
        args.get_all_any().ok(),
        args.get_all::<AnyValue>().ok(),
        "{shown:?}"
    );
}
