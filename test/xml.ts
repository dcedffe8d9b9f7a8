/**
 * A small, strict XML parser for the SVG the library writes (tests only): elements with
 * double-quoted attributes, text, the five predefined entities and numeric character
 * references, and nothing else (no comments, CDATA, doctype or processing instructions —
 * reliabilityDiagram writes none). Anything else, an unbalanced tag, a raw '<' or '&', a
 * duplicate attribute or a character XML 1.0 forbids throws, so a parse is a well-formedness
 * check too.
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), entities decoded. */
  text: string;
  parent: XmlElement | null;
}

const NAME = /[A-Za-z_][\w.:-]*/y;
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  if (raw.includes('<')) throw new Error(`raw '<' in text or attribute near ${at}`);
  return raw.replace(/&([^;]*);|&/g, (match, body: string | undefined) => {
    if (body === undefined) throw new Error(`raw '&' near ${at}`);
    if (body in ENTITIES) return ENTITIES[body];
    const numeric = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(body);
    if (!numeric) throw new Error(`unknown entity &${body}; near ${at}`);
    return String.fromCodePoint(numeric[1] ? parseInt(numeric[1], 16) : Number(numeric[2]));
  });
}

export function parseXml(source: string): XmlElement {
  const forbidden = FORBIDDEN.exec(source);
  if (forbidden) throw new Error(`character U+${forbidden[0].charCodeAt(0).toString(16).padStart(4, '0')} is not allowed in XML 1.0 (at ${forbidden.index})`);
  let at = 0;
  let root: XmlElement | null = null;
  let current: XmlElement | null = null;
  const name = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(source);
    if (!match) throw new Error(`expected a name at ${at}`);
    at += match[0].length;
    return match[0];
  };
  const spaces = () => {
    while (/\s/.test(source[at] ?? '')) at++;
  };
  while (at < source.length) {
    if (source[at] !== '<') {
      const end = source.indexOf('<', at);
      const raw = source.slice(at, end < 0 ? source.length : end);
      if (!current) {
        if (raw.trim()) throw new Error(`text outside the root element at ${at}`);
      } else {
        current.text += decode(raw, at);
      }
      at += raw.length;
      continue;
    }
    if (source[at + 1] === '/') {
      at += 2;
      const closing = name();
      spaces();
      if (source[at] !== '>') throw new Error(`expected '>' at ${at}`);
      at++;
      if (!current || current.name !== closing) throw new Error(`</${closing}> does not close <${current?.name ?? '(nothing)'}>`);
      current = current.parent;
      continue;
    }
    at++;
    const element: XmlElement = { name: name(), attributes: {}, children: [], text: '', parent: current };
    if (current) current.children.push(element);
    else if (root) throw new Error(`a second root element <${element.name}> at ${at}`);
    else root = element;
    for (;;) {
      const before = at;
      spaces();
      if (source.startsWith('/>', at)) {
        at += 2;
        break;
      }
      if (source[at] === '>') {
        at++;
        current = element;
        break;
      }
      if (at === before) throw new Error(`expected a space before an attribute at ${at}`);
      const attribute = name();
      if (source[at] !== '=' || source[at + 1] !== '"') throw new Error(`attribute ${attribute} must be ="…" at ${at}`);
      const end = source.indexOf('"', at + 2);
      if (end < 0) throw new Error(`unterminated attribute ${attribute}`);
      if (attribute in element.attributes) throw new Error(`duplicate attribute ${attribute} on <${element.name}>`);
      element.attributes[attribute] = decode(source.slice(at + 2, end), at);
      at = end + 1;
    }
  }
  if (!root) throw new Error('no root element');
  if (current) throw new Error(`<${current.name}> is not closed`);
  return root;
}

/** Every element of the tree, depth first, document order. */
export function allElements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap(allElements)];
}

/** Elements named `name` whose class attribute holds every class in `classes`. */
export function select(root: XmlElement, name: string, ...classes: string[]): XmlElement[] {
  return allElements(root).filter((element) => {
    if (element.name !== name) return false;
    const own = (element.attributes.class ?? '').split(/\s+/);
    return classes.every((c) => own.includes(c));
  });
}

export const numberOf = (element: XmlElement, attribute: string): number => {
  const value = element.attributes[attribute];
  if (value === undefined) throw new Error(`<${element.name}> has no ${attribute}`);
  return Number(value);
};
