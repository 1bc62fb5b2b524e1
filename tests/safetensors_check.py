#!/usr/bin/env python3
"""An independent safetensors reader in plain Python (no numpy, no safetensors package):
checks a file the way the safetensors library validates one (header length, a JSON
object, string metadata, known dtypes, shapes that match their byte ranges, ranges back
to back from 0 to the end of the file), then prints one line per F32 tensor:
name, element count, and the sum of its values in order as a Python float (repr).
Exit status 1 with the reason on stderr for a file the library would refuse."""
import array
import json
import struct
import sys

DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def fail(message):
    print(f"safetensors_check: {message}", file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail("shorter than the header length")
    (header_bytes,) = struct.unpack("<Q", data[:8])
    if header_bytes > 100_000_000 or 8 + header_bytes > len(data):
        fail(f"header of {header_bytes} bytes in a file of {len(data)}")
    header = json.loads(data[8:8 + header_bytes].decode("utf-8"))
    if not isinstance(header, dict):
        fail("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("__metadata__ holds a value that is not a string")
    tensors = sorted(header.items(), key=lambda item: item[1]["data_offsets"])
    end = 0
    for name, info in tensors:
        begin, stop = info["data_offsets"]
        count = 1
        for extent in info["shape"]:
            count *= extent
        if begin != end or stop - begin != count * DTYPE_BYTES[info["dtype"]]:
            fail(f"tensor {name}: offsets {begin}..{stop} do not follow {end} or fit its shape")
        end = stop
    if 8 + header_bytes + end != len(data):
        fail(f"the data ends at {8 + header_bytes + end}, the file at {len(data)}")
    base = 8 + header_bytes
    for name, info in header.items():
        if info["dtype"] != "F32":
            continue
        begin, stop = info["data_offsets"]
        values = array.array("f")
        values.frombytes(data[base + begin:base + stop])
        if sys.byteorder != "little":
            values.byteswap()
        total = 0.0
        for v in values:
            total += v
        print(f"{name} {len(values)} {total!r}")


if __name__ == "__main__":
    main(sys.argv[1])
