import type { ErrorResponse } from './generated/chat-events';

/** Whether an acknowledgement is the server's error rather than the declared answer. */
export function isError(response: unknown): response is ErrorResponse {
  return (
    typeof response === 'object' &&
    response !== null &&
    !Array.isArray(response) &&
    (response as { status?: unknown }).status === 'error'
  );
}
