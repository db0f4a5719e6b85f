"""One flag spelling rule for every command: `--auto_resume` and `--auto-resume` are the same flag, and so are
`-opt` and `--opt`. BasicSR spells its flags with `_` (`--auto_resume`, `--force_yml`), most tools with `-`
(`--check-data`, `--tile-pad`); users should not have to remember which command uses which."""

import argparse
import sys
from collections.abc import Sequence
from typing import Optional


class ArgumentParser(argparse.ArgumentParser):
    """argparse that maps an unknown flag onto the known flag it differs from only in `_`/`-` or in one leading `-`."""

    def parse_known_args(self, args: Optional[Sequence[str]] = None, namespace=None):
        tokens = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self.normalize_flags(tokens), namespace)

    def normalize_flags(self, tokens: list[str]) -> list[str]:
        """Rewrite each flag token (up to a bare `--`) to the spelling this parser knows, keeping `=value` parts."""
        known = set(self._option_string_actions)
        out = []
        for index, token in enumerate(tokens):
            if token == '--':
                return out + tokens[index:]
            out.append(self.known_spelling(token, known) if token.startswith('-') else token)
        return out

    @staticmethod
    def known_spelling(token: str, known: set[str]) -> str:
        flag, sep, value = token.partition('=')
        if flag in known or len(flag) < 3 or flag[1:].lstrip('-')[:1].isdigit():
            return token
        name = flag.lstrip('-')
        for dashes in ('--', '-'):
            for candidate in (name, name.replace('_', '-'), name.replace('-', '_')):
                if dashes + candidate in known:
                    return dashes + candidate + sep + value
        return token
