/**
 * The recipients CSV as records: its encoding and delimiter found, then streamed through csv-parse, so memory
 * stays flat however large the file is.
 *
 * Encoding: a byte-order mark decides (UTF-8, or UTF-16 as Excel's "Unicode text" writes it). Without one,
 * the job's `encoding` key names it (decoded by iconv-lite), or else the file must be UTF-8: bytes that are not
 * UTF-8 stop the load, naming the first bad line, rather than sending "Ren�" to the people on it.
 *
 * Delimiter: the job's `delimiter` key, or else found from the header line (quotes respected): the one of
 * `,` `;` and tab that makes a column named `dst_column`, else the most frequent, else `,`.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import { UsageError } from '../errors.js';

export interface CsvRecord {
  record: string[];
  /** The record's text as it stands in the file (after decoding), its line break included. */
  raw: string;
}

export interface OpenedCsv {
  delimiter: string;
  /** Whether the delimiter was found from the header line rather than named by the job. */
  detected: boolean;
  records: AsyncIterable<CsvRecord>;
}

/**
 * A file the load cannot read past a line (its encoding, an unclosed quote). The load streams, so chunks
 * before that line may be in the ledger already: `partly` says so, and that the fixed file goes on from there.
 */
export class CsvFileError extends UsageError {
  constructor(private readonly what: string, private readonly fix: string, cause?: unknown) {
    super(`${what} ${fix}. Nothing was loaded.`, cause === undefined ? undefined : { cause });
  }

  /** The same error for a load that committed rows before reaching the bad line. */
  partly(loadedRows: number): UsageError {
    return new UsageError(`${this.what} ${this.fix}. Rows 1 to ${loadedRows} are in the ledger (sending may have begun); ` +
      'run again once the file is fixed: the load goes on after them, as long as those rows are unchanged.', { cause: this.cause ?? this });
  }
}

export interface CsvOptions {
  encoding?: string | undefined;
  delimiter?: string | undefined;
  /** The column the delimiter should reveal, when it is detected. */
  dstColumn: string;
  /** Sees every byte of the file as it is read (the load hashes the file as it streams). */
  onBytes?: ((bytes: Buffer) => void) | undefined;
}

const DETECTED = [',', ';', '\t'] as const;
const DELIMITER_NAMES: Readonly<Record<string, string>> = { ',': 'commas', ';': 'semicolons', '\t': 'tabs', '|': 'pipes' };
/** The header line is looked for in at most this much text; a longer one is read as it is. */
const MAX_HEADER_CHARS = 1 << 20;

export function delimiterName(delimiter: string): string {
  return DELIMITER_NAMES[delimiter] ?? `'${delimiter}'`;
}

export async function openCsv(file: string, options: CsvOptions): Promise<OpenedCsv> {
  const text = decodeFile(file, options.encoding, options.onBytes)[Symbol.asyncIterator]();
  let head = '';
  let done = false;
  while (!done && headerLine(head, false) === undefined && head.length < MAX_HEADER_CHARS) {
    const next = await text.next();
    if (next.done) done = true;
    else head += next.value;
  }
  const header = headerLine(head, true) ?? '';
  const delimiter = options.delimiter ?? detectDelimiter(header, options.dstColumn);
  async function* all(): AsyncGenerator<string> {
    if (head !== '') yield head;
    for (let next = await text.next(); !next.done; next = await text.next()) yield next.value;
  }
  const parser = parse({ delimiter, relax_column_count: true, trim: true, raw: true });
  // pipeline destroys the file and the decoder with the parser: on an error, or when the reader stops early.
  pipeline(Readable.from(all()), parser, () => {});
  return { delimiter, detected: options.delimiter === undefined, records: parser as AsyncIterable<CsvRecord> };
}

/** The first line that is not blank, quotes respected; undefined while it may not be complete yet. */
function headerLine(text: string, atEnd: boolean): string | undefined {
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) {
      const line = text.slice(start, i);
      if (line.trim() !== '') return line;
      start = i + 1;
    }
  }
  const rest = text.slice(start);
  return atEnd && rest.trim() !== '' ? rest : undefined;
}

/** The delimiter that yields a `dstColumn` column, else the most frequent outside quotes, else `,`. */
export function detectDelimiter(header: string, dstColumn: string): string {
  const naming = DETECTED.filter((d) => splitHeader(header, d).includes(dstColumn));
  if (naming.length === 1) return naming[0]!;
  let best: string = ',';
  let bestCount = 0;
  for (const d of DETECTED) {
    const count = splitHeader(header, d).length - 1;
    if (count > bestCount) [best, bestCount] = [d, count];
  }
  return best;
}

/** A header line's column names split at `delimiter`, outside quotes, trimmed and unquoted. */
export function splitHeader(header: string, delimiter: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i]!;
    if (c === '"') {
      if (quoted && header[i + 1] === '"') [field, i] = [field + '"', i + 1];
      else quoted = !quoted;
    } else if (c === delimiter && !quoted) {
      fields.push(field.trim());
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field.trim());
  return fields;
}

const BOMS: ReadonlyArray<readonly [Buffer, string]> = [
  [Buffer.from([0xef, 0xbb, 0xbf]), 'utf-8'],
  [Buffer.from([0xff, 0xfe]), 'utf-16le'],
  [Buffer.from([0xfe, 0xff]), 'utf-16be'],
];

interface Decoder {
  write(bytes: Buffer): string;
  end(): string;
}

/** The file's text, chunk by chunk, decoded as its byte-order mark, the job's `encoding` or UTF-8 say. */
async function* decodeFile(file: string, encoding: string | undefined, onBytes?: (bytes: Buffer) => void): AsyncGenerator<string> {
  let decoder: Decoder | undefined;
  let head = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    let bytes = chunk as Buffer;
    onBytes?.(bytes);
    if (decoder === undefined) {
      // A BOM is at most 3 bytes; wait for them unless the file is shorter.
      head = Buffer.concat([head, bytes]);
      if (head.length < 3) continue;
      const chosen = chooseDecoder(file, head, encoding);
      decoder = chosen.decoder;
      bytes = head.subarray(chosen.skip);
    }
    const text = decoder.write(bytes);
    if (text !== '') yield text;
  }
  if (decoder === undefined) {
    const chosen = chooseDecoder(file, head, encoding);
    decoder = chosen.decoder;
    yield chosen.decoder.write(head.subarray(chosen.skip));
  }
  const rest = decoder.end();
  if (rest !== '') yield rest;
}

function chooseDecoder(file: string, head: Buffer, encoding: string | undefined): { decoder: Decoder; skip: number } {
  const bom = BOMS.find(([mark]) => head.subarray(0, mark.length).equals(mark));
  if (bom && encoding !== undefined && !sameEncoding(encoding, bom[1])) {
    throw new UsageError(`${file}: the file starts with a ${bom[1].toUpperCase()} byte-order mark, but the job's "encoding" is ` +
      `'${encoding}'. Remove "encoding" from the job: the mark says how the file is encoded. Nothing was loaded.`);
  }
  const name = bom?.[1] ?? encoding ?? 'utf-8';
  const skip = bom?.[0].length ?? 0;
  if (sameEncoding(name, 'utf-8')) return { decoder: new Utf8Decoder(file), skip };
  const decoder = iconv.getDecoder(name, { stripBOM: false });
  return { decoder: { write: (bytes) => decoder.write(bytes), end: () => decoder.end() ?? '' }, skip };
}

function sameEncoding(a: string, b: string): boolean {
  const canonical = (e: string) => e.toLowerCase().replace(/[^a-z0-9]/g, '').replace(/^ucs2$/, 'utf16le');
  return canonical(a) === canonical(b) || (canonical(a) === 'utf16' && canonical(b).startsWith('utf16'));
}

/**
 * UTF-8 that is checked: text is passed on only once its bytes are known to be UTF-8 (Node's `isUtf8`, with
 * a sequence cut by the chunk boundary held back), and the first bad byte stops the load naming its line.
 */
class Utf8Decoder implements Decoder {
  readonly #file: string;
  readonly #text = new TextDecoder('utf-8');
  #held = Buffer.alloc(0);
  /** Line breaks in the bytes passed on so far (CRLF, LF or a lone CR each count one). */
  #lineBreaks = 0;
  #endsInCr = false;

  constructor(file: string) {
    this.#file = file;
  }

  write(chunk: Buffer): string {
    const bytes = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    let cut = bytes.length;
    if (!isUtf8(bytes)) {
      const bad = firstInvalidUtf8(bytes);
      if (!bad.truncated) this.#fail(bytes, bad.index);
      cut = bad.index;
    }
    this.#held = Buffer.from(bytes.subarray(cut));
    const good = bytes.subarray(0, cut);
    this.#count(good);
    return this.#text.decode(good, { stream: true });
  }

  end(): string {
    if (this.#held.length > 0) this.#fail(this.#held, 0);
    return this.#text.decode();
  }

  #count(bytes: Buffer): void {
    let afterCr = this.#endsInCr;
    for (const b of bytes) {
      if (b === 0x0d || (b === 0x0a && !afterCr)) this.#lineBreaks++;
      afterCr = b === 0x0d;
    }
    if (bytes.length > 0) this.#endsInCr = afterCr;
  }

  #fail(bytes: Buffer, index: number): never {
    this.#count(bytes.subarray(0, index));
    const line = this.#lineBreaks + 1;
    const lineStart = index === 0 ? 0 : Math.max(bytes.lastIndexOf(0x0a, index - 1), bytes.lastIndexOf(0x0d, index - 1)) + 1;
    let lineEnd = bytes.indexOf(0x0a, index);
    if (lineEnd < 0 || lineEnd - lineStart > 120) lineEnd = Math.min(bytes.length, lineStart + 120);
    const asWindows1252 = iconv.decode(bytes.subarray(lineStart, lineEnd), 'windows-1252').replace(/\r$/, '');
    const byte = `0x${bytes[index]!.toString(16).toUpperCase().padStart(2, '0')}`;
    throw new CsvFileError(`${this.#file}:${line}: the CSV is not UTF-8 text (byte ${byte}; read as Windows-1252, ` +
      `line ${line} is "${asWindows1252}").`, 'Excel on Windows saves "CSV" in Windows-1252: add "encoding": "windows-1252" ' +
      'to the job (or name the encoding the file is in), or save it as "CSV UTF-8"');
  }
}

/**
 * Where the first byte that is not part of a UTF-8 character is, and whether it only starts a character the
 * buffer cuts short (more bytes may complete it).
 */
export function firstInvalidUtf8(bytes: Uint8Array): { index: number; truncated: boolean } {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) [need, low, high] = [2, b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf];
    else if (b >= 0xf0 && b <= 0xf4) [need, low, high] = [3, b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf];
    else return { index: i, truncated: false };
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return { index: i, truncated: true };
      const c = bytes[i + k]!;
      const [lo, hi] = k === 1 ? [low, high] : [0x80, 0xbf];
      if (c < lo || c > hi) return { index: i, truncated: false };
    }
    i += need + 1;
  }
  return { index: bytes.length, truncated: false };
}
