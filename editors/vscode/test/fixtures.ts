/** The sample file and memory shared by the end-to-end tests. */
export const SAMPLE = [
  '"""Sample module for the DevMemory smoke test."""',
  '',
  '',
  'def compute_checksum(data: bytes) -> int:',
  '    """Sum of the bytes, folded to 16 bits."""',
  '    return sum(data) % 65536',
  '',
].join('\n');

/** 0-based line of `def compute_checksum`. */
export const FUNCTION_LINE = 3;

export const TITLE = 'Checksum must stay 16-bit for the firmware';
