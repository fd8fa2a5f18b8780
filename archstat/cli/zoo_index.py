"""Rewrite configs/index.json, the rows ``archstat list`` shows for the zoo's configs (``list_cmd.zoo_rows``
reads it, and computes a config whose text has changed since): ``python -m archstat.cli.zoo_index``."""

from __future__ import annotations

import json


def main() -> None:
    from archstat.cli.list_cmd import INDEX, build_index
    from archstat.zoo import zoo_dir

    (zoo_dir() / INDEX).write_text(json.dumps(build_index(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
