"""The bad-input corpus (issue 31): broken, hostile and merely odd files, each with the outcome
``countxplain count`` must give it when it meets the file in a folder.

``corpus.CASES`` lists them; ``corpus.make_corpus(folder)`` writes them all into ``folder``. Outcomes:

* ``refused``: exactly one ``error: FILE: reason`` line on stderr, whose reason holds ``words``;
* ``counted``: a legitimately readable odd image, counted (a line on stdout and a CSV row);
* ``ignored``: not an image name, so a folder walk passes it by in silence.

A case with ``named`` is also given on the command line by its path (a folder walk skips names
without an image suffix; named, they are refused).

The files' pixels are made in ``pixels``, their broken and hostile bytes in ``files``.
``PYTHONPATH=tests python -m helpers.bad_inputs`` prints the table of ``docs/bad-inputs.md`` (``document``);
``--write`` puts it there.
"""
