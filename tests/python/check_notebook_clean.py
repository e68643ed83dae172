"""A committed notebook must carry no outputs, so that its diffs show only what changed in its cells.

Usage: python tests/python/check_notebook_clean.py NOTEBOOK.ipynb...
Run by .ci/run before it executes notebooks/explore_outputs.ipynb. Exits 1 naming each cell with outputs or an
execution count.
"""

import json
import sys

if not sys.argv[1:]:
    sys.exit(__doc__)
dirty = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        cells = json.load(file)["cells"]
    for number, cell in enumerate(cells, 1):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            dirty.append(f"{path}: cell {number} ({cell.get('id', 'no id')}) has outputs: clear them before committing")
if dirty:
    sys.exit("\n".join(dirty))
print(f"{', '.join(sys.argv[1:])}: no outputs")
