// Whether this runtime runs WebAssembly relaxed SIMD as it stands, and the flag that turns it on
// in Node 20 (V8 11.3), where it is off by default. Node ≥ 22 has it on by default, and Node 24
// rejects the flag as a bad option, so nothing may pass it blindly. Shared by the bench
// (re-executes itself with the flag) and the tests (npm run test:relaxed).

export const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

/** A minimal module that uses f32x4.relaxed_madd: validates only where relaxed SIMD is enabled. */
export const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3e, 0x01, 0x3c, 0x00, // code section: one body of 60 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // 3 × v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x1a, 0x0b, // drop, end
]);

/** True when this process validates relaxed-SIMD wasm (by default, or through the flag). */
export function relaxedSimdEnabled() {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}
