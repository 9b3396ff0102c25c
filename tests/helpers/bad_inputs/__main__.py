"""``PYTHONPATH=tests python -m helpers.bad_inputs`` prints the corpus table of ``docs/bad-inputs.md``; with
``--write`` it puts the table there."""

import sys

from helpers.bad_inputs.document import markdown_table, write_document_table

if sys.argv[1:] == ["--write"]:
    write_document_table()
else:
    sys.stdout.write(markdown_table())
