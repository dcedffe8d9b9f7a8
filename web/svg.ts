/** Tiny helpers to draw SVG from data: elements, linear scales and "nice" axis ticks. */

const SVG_NS = 'http://www.w3.org/2000/svg';

export type Attributes = Record<string, string | number>;

/** Create an SVG element with attributes, optionally appended to `parent`. */
export function svgElement<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  parent?: Element,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  parent?.appendChild(element);
  return element;
}

/** Empty an SVG and set its coordinate system (it then scales with its CSS width). */
export function resetSvg(svg: SVGSVGElement, width: number, height: number): void {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
}

/**
 * The width the SVG is drawn at, in CSS px (`fallback` while it has no layout). Charts use it
 * as their viewBox width, so that one unit is one pixel: 12-unit text is 12 px on a phone too,
 * instead of a 900-unit chart shrunk to a third.
 */
export function drawnWidth(svg: Element, fallback = 900): number {
  const width = Math.round(svg.getBoundingClientRect().width);
  return width > 0 ? width : fallback;
}

/** Calls `render` again whenever the element's drawn width changes (window resized, phone rotated). */
export function redrawOnResize(svg: Element, render: () => void): void {
  let last = drawnWidth(svg);
  new ResizeObserver(() => {
    const width = drawnWidth(svg);
    if (width !== last) {
      last = width;
      render();
    }
  }).observe(svg);
}

/** A linear map from [d0, d1] to [r0, r1]. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (x: number) => number {
  const slope = (r1 - r0) / (d1 - d0);
  return (x) => r0 + (x - d0) * slope;
}

/** About `count` round tick values (1, 2 or 5 × 10ⁿ apart) covering [low, high]. */
export function niceTicks(low: number, high: number, count: number): number[] {
  const rawStep = (high - low) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rawStep) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toFixed(10)));
  return ticks;
}

/** An SVG path `d` through the points (x, y), skipping non-finite ones. */
export function polylinePath(points: ReadonlyArray<readonly [number, number]>): string {
  let d = '';
  let pen = 'M';
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = 'M';
      continue;
    }
    d += `${pen}${x.toFixed(2)},${y.toFixed(2)}`;
    pen = 'L';
  }
  return d;
}
