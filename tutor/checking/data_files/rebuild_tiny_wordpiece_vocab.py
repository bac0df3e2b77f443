"""Write tiny_wordpiece_vocab.txt, the project's own small WordPiece vocabulary (one piece a line).

    python tutor/checking/data_files/rebuild_tiny_wordpiece_vocab.py        # rewrites the file

Made by hand for the BERT lessons, not learned from a corpus and not taken from Google's vocab:
the five special tokens first ([PAD] has id 0, as in BERT), then punctuation, the ten digits
(as word-initial pieces only: there is no "##3", so "mp3" cannot be split and becomes [UNK]),
the 26 letters as initial pieces and as "##" continuations (so every lower-case ASCII word can
be split), a list of whole words about films and deep learning, prefixes such as "un" and
"re", and "##" suffixes such as "##ing" and "##able". The lists below are the whole recipe;
the order is fixed, so the ids are too.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCTUATION = list(".,!?'\"-()[]:;/&$%+=@#*<>_")
DIGITS = list(string.digits)
WORDS = """
the a an and or of to in on at by for with from as is are was were be been being it its this that
these those there here he she they we you i me my his her their our your them us not no but if so
than then too very just only also more most less much many some all any each every one two three
four five ten first last new old good bad great best better worse worst fine nice big small long
short fast slow high low real true false movie movies film films story stories plot scene scenes
actor actors actress role music end ending book books watch watched saw see seen like liked love
loved hate hated boring funny sad happy dark light time times day days year years man woman people
world life home work play played playing player run running walk walked talk talked think thought
know knew make made take took give gave word words token tokens piece pieces text sentence
sentences language languages model models layer layers deep learning learn learned train trained
training network networks neural attention transformer transformers bert gpt mask masked input
inputs output outputs vector vectors matrix weight weights embedding embeddings head heads
position positions segment segments vocabulary data set test loss cafe naive resume over under
back up down out off about into after before again never always what which who how why when where
do does did don can could will would should must may might have has had am
""".split()
PREFIXES = ["un", "re", "pre", "dis", "non", "anti", "sub", "inter", "multi", "trans", "micro"]
SUFFIXES = """
##s ##es ##ed ##d ##ing ##er ##ers ##est ##ly ##ness ##able ##ible ##ment ##ments ##tion ##tions
##ation ##ization ##ize ##izer ##izers ##ized ##ful ##less ##ity ##al ##ous ##ive ##ism ##ist
##y ##ies ##en ##aff ##ish ##ward ##wards ##ship ##hood ##wise ##ling ##let ##ee ##ence ##ance
""".split()


def pieces() -> list[str]:
    """The vocabulary in id order, without duplicates."""
    out: list[str] = []
    for group in (SPECIAL, PUNCTUATION, DIGITS, list(string.ascii_lowercase),
                  ["##" + c for c in string.ascii_lowercase], WORDS, PREFIXES, SUFFIXES):
        for p in group:
            if p not in out:
                out.append(p)
    return out


def main() -> None:
    path = Path(__file__).resolve().parent / "tiny_wordpiece_vocab.txt"
    path.write_text("\n".join(pieces()) + "\n", encoding="utf-8")
    print(f"wrote {len(pieces())} pieces to {path}")


if __name__ == "__main__":
    main()
