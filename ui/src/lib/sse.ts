// The server-sent events format, parsed from text as it arrives (see api/stream.ts).

export interface SseEvent {
  event: string;
  data: string;
}

/** Splits `buffer` into its complete events (each ends with a blank line) and the incomplete rest.
 * Follows the SSE format: `event:` names the event ("message" when absent), `data:` lines join
 * with newlines, lines starting with ":" are comments, one space after the colon is dropped. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  const events: SseEvent[] = [];
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}
