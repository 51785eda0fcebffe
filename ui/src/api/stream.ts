// Server-sent events read with fetch rather than EventSource: a fetch can be aborted when the user
// asks again, and an error answer (404, 503) keeps its JSON message.
import { parseSse, type SseEvent } from "../lib/sse";
import { ApiError, refusal, refused401 } from "./client";

/** GETs `url` as an event stream, calling `onEvent` for each event as it arrives. */
export async function streamSse(url: string, onEvent: (e: SseEvent) => void, signal?: AbortSignal): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: "text/event-stream" }, signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(`cannot reach the kokanee API (${(e as Error).message})`, 0, url);
  }
  refused401(response);
  if (!response.ok || !response.body) throw refusal(response, await response.text(), url);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    buffer += decoder.decode(value, { stream: !done });
    const { events, rest } = parseSse(done ? `${buffer}\n\n` : buffer);
    events.forEach(onEvent);
    buffer = rest;
    if (done) return;
  }
}
