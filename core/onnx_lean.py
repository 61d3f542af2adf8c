"""A leaner copy of the int8 model: embedding tables stay int8 in memory (~34 MB less).

The model stores each weight as int8 plus a scale, and turns it back into floats with
``Cast`` and ``Mul`` at the start of the graph. ONNX Runtime folds those constants once when
it builds the session (fast queries: the float weights are ready), which also turns the
30522-row word-embedding table into 47 MB of floats, although a text only ever reads the
few rows of its own tokens. Here each embedding lookup ``Gather(Mul(Cast(q), scale), ids)``
becomes ``Mul(Cast(Gather(q, ids)), Gather(scale, ids))``: the same multiplications on the
rows looked up (bit-identical vectors), the table left in int8. The other weights keep
being folded.

Run in a child process (``python -m core.onnx_lean SRC DST``) so that a long-lived process
never holds the ``onnx`` package; the result is cached next to the model (see onnx_text).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any


def rewrite(src: Path, dst: Path) -> int:
    """Write the lean model to ``dst`` (atomically, with a ``.sha256`` beside it); returns
    how many lookups were rewritten (0: nothing to gain, nothing written)."""
    import onnx

    model = onnx.load(str(src))
    changed = sum(_rewrite_lookup(model.graph, node) for node in list(model.graph.node))
    if changed:
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
        onnx.save(model, str(tmp))
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        os.replace(tmp, dst)
        dst.with_name(dst.name + ".sha256").write_text(digest + "\n", encoding="ascii")
    return changed


def _rewrite_lookup(graph: Any, gather: Any) -> bool:
    """Move one ``Gather`` before its table's dequantisation; False when it does not fit."""
    if gather.op_type != "Gather" or _axis(gather) != 0:
        return False
    mul = _only_producer(graph, gather.input[0], "Mul")
    cast = _only_producer(graph, mul.input[0], "Cast") if mul is not None else None
    if mul is None or cast is None:
        return False
    initializers = {i.name: i for i in graph.initializer}
    table, scale = initializers.get(cast.input[0]), initializers.get(mul.input[1])
    if table is None or scale is None or not _per_row(scale, table):
        return False
    from onnx import helper

    ids, out = gather.input[1], gather.output[0]
    rows = [
        helper.make_node("Gather", [cast.input[0], ids], [out + "_q"], axis=0),
        helper.make_node("Gather", [mul.input[1], ids], [out + "_scale"], axis=0),
        helper.make_node("Cast", [out + "_q"], [out + "_f"], to=_cast_to(cast)),
        helper.make_node("Mul", [out + "_f", out + "_scale"], [out]),
    ]
    # Where the lookup was, less the Cast and Mul before it (the graph is in topological
    # order): the ids are made earlier, the readers of the output come later.
    at = list(graph.node).index(gather) - 2
    for old in (gather, mul, cast):
        graph.node.remove(old)
    for offset, node in enumerate(rows):
        graph.node.insert(at + offset, node)
    return True


def _axis(node: Any) -> int:
    return next((int(a.i) for a in node.attribute if a.name == "axis"), 0)


def _cast_to(node: Any) -> int:
    return next(int(a.i) for a in node.attribute if a.name == "to")


def _only_producer(graph: Any, name: str, op_type: str) -> Any:
    """The node of ``op_type`` that makes ``name``, when ``name`` has no other reader."""
    readers = sum(name in node.input for node in graph.node) + sum(
        o.name == name for o in graph.output
    )
    found = next((n for n in graph.node if name in n.output), None)
    return found if found is not None and found.op_type == op_type and readers == 1 else None


def _per_row(scale: Any, table: Any) -> bool:
    """A scale with one value per table row ([rows, 1]): it is looked up with the rows."""
    dims = list(scale.dims)
    return len(dims) == 2 and dims[0] == table.dims[0] and dims[1] == 1


if __name__ == "__main__":  # pragma: no cover - run by onnx_text in a child process
    sys.exit(0 if rewrite(Path(sys.argv[1]), Path(sys.argv[2])) else 3)
