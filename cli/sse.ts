/** A small Server-Sent Events reader for the watch routes (`?watch=true`). */

/** One dispatched SSE message. */
export interface SseMessage {
  /** The `event:` field; "message" when the frame had none. */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

/**
 * Yields each message of an SSE body. Comment lines (`: keepalive`) and frames without
 * data are skipped; a message still open when the stream ends is dropped, as the spec says.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      const sepLength = buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone "\r" at the end of a chunk may be the first half of "\r\n": wait for more.
      if (buffer[newline] === "\r" && newline + 1 === buffer.length) break;
      buffer = buffer.slice(newline + sepLength);
      if (line === "") {
        if (data.length) yield { event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
  }
}
