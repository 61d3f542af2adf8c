"""People named in prose: "Alice Chen moved billing to FastAPI", "met with Priya", "thanks Bob".

Not every capitalised word is a person; the precision guard:

* a first name must be in the gazetteer (``core/data/first_names.txt``: the 1990 US Census
  lists, public domain, and common names of other countries added by hand);
* a full name is that first name and one or two capitalised surname words (``van``, ``de``…
  allowed between) that are neither common capitalised words of developer text (days,
  months, "Review", "Team"…) nor technologies. A first name that is also an English word
  ("Will", "Grant", "May") starts a full name only mid-sentence ("Grant Access to…" at the
  start of a title is not a person);
* a lone first name counts only beside a cue that people take and code does not ("with
  Priya", "thanks Bob", "Priya owns", "Priya's", a chat line "Priya: …") and never when
  the word is a technology ("Claude", "Ruby", "Julia" alone stay technologies), nor when
  it is an English word;
* a lone first name that starts a full name in the same text is that person (an alias),
  never another one: people who share a first name are never merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).with_name("data") / "first_names.txt"
_WORD = r"[A-Z][a-z]+(?:[-'’][A-Z][a-z]+)?"
_FULL = re.compile(
    rf"\b(?P<first>{_WORD})[ \t]+(?P<last>(?:(?:van|de|der|den|von|da|di|du|le|la|del|dos|bin|al)"
    rf"[ \t]+)?{_WORD}(?:[ \t]+{_WORD})?)\b"
)
_LONE = re.compile(rf"\b{_WORD}\b")
_HANDLE_AFTER = re.compile(r"\s*\(@([A-Za-z0-9][\w-]{0,38})\)")
# Words before a lone first name that make it a person ("with Priya", "thanks Bob").
_BEFORE = frozenset(
    "with thanks thank thx ask asked ping pinged told tell cc met call called emailed messaged "
    "per paired pairing reviewer assignee owner hi hey hello dear congrats kudos".split()
)
# Verbs after a lone first name that make it a person ("Priya owns", "Bob said").
_AFTER = frozenset(
    "said says owns owned wrote writes reviewed approved merged suggested mentioned thinks "
    "thought agreed asked asks proposed confirmed noted reported joined leads led".split()
)
_AFTER_MID = frozenset("will would is was has had and found fixed took pushed opened".split())
# Capitalised words of developer text that are not surnames.
_STOP = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december today tomorrow yesterday
    team teams review reviews reviewed request requests release releases pull push merge
    branch commit commits code service services server servers client clients api apis
    support update updates fix fixes bug bugs issue issues ticket tickets test tests build
    builds deploy deployment docs doc documentation readme changelog notes note meeting
    meetings standup retro planning sync demo sprint backlog roadmap design spec project
    projects version versions access admin user users account accounts data database
    cache queue worker workers job jobs pipeline config configuration settings error
    errors warning warnings log logs report reports feature features the and or of for
    to in on at by with from into about after before when then this that these those
    is are was were be been will would should could can may might must not no yes new
    old all any each every some more most less add added remove removed use used using
    make made run ran set get got see saw let lets please thanks thank hi hello hey
    ok okay done todo wip draft final next last first second third north south east
    west street road avenue university college inc ltd llc corp group labs lab studio
    manager engineer engineering product marketing sales ops security platform infra
    infrastructure frontend backend mobile web desktop cloud staging production prod dev
    """.split()
)
# First names that are also common English words: never alone, never a sentence's start.
_AMBIGUOUS = frozenset(
    """
    will may june april august mark chase grant bill pat art don guy max page rich ray joy
    hope faith grace rose ruby ivy iris lily daisy summer autumn dawn eve star sky rusty
    buddy sunny lane dale glen cliff forest heath brook river rocky stone wood ward gay
    major king earl duke prince baron noble sterling royal penny gene sol sue jack frank
    drew pierce wade miles rod carol holly crystal amber pearl ginger candy honey melody
    harmony destiny trinity genesis haven justice liberty precious love patience charity
    merry constance prudence felicity verity clay dusty randy sandy terry jerry chance
    cash colt hunter archer bishop booker carter cooper fisher mason porter taylor tyler
    walker warren young long short black white green brown gray grey dash echo nova
    """.split()
)


@dataclass(frozen=True)
class Person:
    """A person found in prose: a lower-case key, how it is written, other names for it."""

    key: str
    display: str
    aliases: tuple[str, ...]
    confidence: float
    span: tuple[int, int]


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """The gazetteer, lower-case."""
    lines = _DATA.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#"))


def find(text: str, is_technology: Callable[[str], bool]) -> list[Person]:
    """People named in ``text`` (full names, then lone first names with a cue)."""
    names = first_names()
    found: list[Person] = []
    taken: list[tuple[int, int]] = []
    for m in _FULL.finditer(text):
        person = _full(text, m, names, is_technology)
        if person is not None:
            found.append(person)
            taken.append(person.span)
    firsts = {p.key.split()[0]: p for p in found}
    lone = [m for m in _LONE.finditer(text) if not any(s <= m.start() < e for s, e in taken)]
    for m in lone:
        _lone(text, m, names, is_technology, firsts, found)
    _coordinated(text, lone, names, is_technology, firsts, found)
    return found


def _coordinated(
    text: str,
    lone: list[re.Match[str]],
    names: frozenset[str],
    is_technology: Callable[[str], bool],
    firsts: dict[str, Person],
    found: list[Person],
) -> None:
    """First names in a list with a person ("Mei Lin and Tom", "Rahul Mehta, Sven") or two
    first names joined by "and" ("Anna and Lars split…") are people too."""
    changed = True
    while changed:
        changed = False
        spans = [p.span for p in found]
        for m in lone:
            low = m.group().lower()
            if low in firsts or not _plausible(m.group(), names, is_technology):
                continue
            if _next_to(text, m, spans) or _pair(text, m, lone, names, is_technology):
                person = Person(low, m.group(), (m.group(),), 0.7, m.span())
                firsts[low] = person
                found.append(person)
                changed = True


def _plausible(word: str, names: frozenset[str], is_technology: Callable[[str], bool]) -> bool:
    low = word.lower()
    return low in names and low not in _AMBIGUOUS and low not in _STOP and not is_technology(word)


_JOIN = re.compile(r"^(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)$")


def _next_to(text: str, m: re.Match[str], spans: list[tuple[int, int]]) -> bool:
    for s, e in spans:
        gap = text[e : m.start()] if e <= m.start() else text[m.end() : s]
        if len(gap) <= 7 and _JOIN.match(gap):
            return True
    return False


def _pair(
    text: str,
    m: re.Match[str],
    lone: list[re.Match[str]],
    names: frozenset[str],
    is_technology: Callable[[str], bool],
) -> bool:
    for other in lone:
        if other is m or not _plausible(other.group(), names, is_technology):
            continue
        first, second = (m, other) if m.start() < other.start() else (other, m)
        if re.fullmatch(r"\s+and\s+", text[first.end() : second.start()]):
            return True
    return False


def _full(
    text: str, m: re.Match[str], names: frozenset[str], is_technology: Callable[[str], bool]
) -> Person | None:
    first, last = m.group("first"), m.group("last")
    low = first.lower()
    if (
        low not in names
        or low in _BEFORE
        or is_technology(last)
        or is_technology(f"{first} {last}")
    ):
        return None
    if any(w.lower() in _STOP for w in last.split()):
        # "Alice Chen Review" → keep "Alice Chen" when the first surname word is fine
        head = last.split()[0]
        if head.lower() in _STOP or is_technology(head):
            return None
        last = head
    if low in _AMBIGUOUS and _sentence_start(text, m.start()):
        return None
    display = f"{first} {last}"
    end = m.start() + len(display)
    aliases = [display]
    handle = _HANDLE_AFTER.match(text, end)
    if handle:
        aliases.append("@" + handle.group(1))
    return Person(
        " ".join(display.lower().split()), display, tuple(aliases), 0.85, (m.start(), end)
    )


def _lone(
    text: str,
    m: re.Match[str],
    names: frozenset[str],
    is_technology: Callable[[str], bool],
    firsts: dict[str, Person],
    found: list[Person],
) -> None:
    word = m.group()
    low = word.lower()
    if low not in names or low in _AMBIGUOUS or low in _STOP or is_technology(word):
        return
    known = firsts.get(low)
    if known is not None:  # "Priya Natarajan … Priya owns the fix": the same person
        if word not in known.aliases:
            firsts[low] = Person(
                known.key, known.display, (*known.aliases, word), known.confidence, known.span
            )
            found[found.index(known)] = firsts[low]
        return
    if _cued(text, m.start(), m.end()):
        person = Person(low, word, (word,), 0.7, (m.start(), m.end()))
        firsts[low] = person
        found.append(person)


def _cued(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 24) : start]
    after = text[end : end + 24]
    prev = re.findall(r"[A-Za-z]+", before)
    nxt = re.match(r"\s*([A-Za-z]+)", after)
    if prev and prev[-1].lower() in _BEFORE:
        return True
    if after.startswith(("'s ", "’s ")) or re.match(r":\s", after) and _line_start(text, start):
        return True
    verb = nxt.group(1).lower() if nxt else ""
    past = len(verb) > 4 and verb.endswith("ed") and not after.startswith((",", ";"))
    return verb in _AFTER or past or (verb in _AFTER_MID and not _sentence_start(text, start))


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:\n#*-•>\"'(" or _line_start(text, start)


def _line_start(text: str, start: int) -> bool:
    return text[:start].rsplit("\n", 1)[-1].strip() == ""


def known(
    people: Sequence[tuple[tuple[str, str], str, Sequence[str]]], name: str
) -> tuple[str, str] | None:
    """The person (key, display, aliases) of one memory that ``name`` means: the one known
    by that name, or for a lone first name the one person here whose name starts with it (a
    signature "Priya" under Priya Raman's mail, "Jonas" beside jonas.berg@…)."""
    low = " ".join(name.lower().split())
    for key, display, aliases in people:
        if key[1] == low or display.lower() == low or low in map(str.lower, aliases):
            return key
    if " " in low:
        return None
    same = [key for key, display, _ in people if _first_name_of(key[1], display) == low]
    return same[0] if len(same) == 1 else None


def _first_name_of(name: str, display: str) -> str | None:
    """ "Priya Raman" → priya; an address alone, "jonas.berg@…" → jonas."""
    if " " in display.strip():
        return display.split()[0].lower()
    if "@" in name and not name.startswith("@"):
        return re.split(r"[._+-]", name.partition("@")[0])[0] or None
    return None
