"""A project's retrieval: the time to find a question's passages among 1,000 and make them the
request's `search_result` blocks (projects/retrieval.search_results), in-process.

    .venv/bin/python -m bench.retrieval                    # SQLite in a temp dir
    .venv/bin/python -m bench.retrieval --passages 10000
    .venv/bin/python -m bench.retrieval --database-url postgres://postgres@127.0.0.1:5432/chat_retrieval_bench

A team project whose knowledge is text files made of words drawn from a 20,000-word vocabulary
with Zipf frequencies (as bench/search.py's messages), added through the project's service (so
split and indexed as an upload is), 10 files of --passages / 10 passages each; another project
holds as many again, which a search must never read. Each question is timed --runs times after a
warm-up; reported: the median (min, max) and how many passages it found.
"""

import argparse
import itertools
import random
import statistics
import time

from bench.inprocess import setup_django

VOCABULARY = 20_000
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]


def vocabulary() -> list[str]:
    """Made-up words, the most frequent first (distinct, 2 to 4 syllables)."""
    rng = random.Random(7)
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


def file_text(words: list[str], weights: list[float], passages: int, rng: random.Random) -> str:
    """About `passages` passages: paragraphs of 125 words (about 900 characters) each."""
    paragraphs = [" ".join(rng.choices(words, cum_weights=weights, k=125)) for _ in range(passages)]
    return "\n\n".join(paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    setup_django("bench-retrieval-", args.database_url)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from conversations.models import ProjectPassage
    from conversations.projects import retrieval, services
    from teams import services as teams

    settings.MEDIA_ROOT = settings.DATA_DIR / "media"
    settings.CHAT_PROJECT_MAX_MB = 500
    words = vocabulary()
    weights = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY + 1)))
    rng = random.Random(11)
    user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-pass-123")
    team = teams.team_create(user=user, name="Bench")
    started = time.perf_counter()
    projects = []
    for name in ("Measured", "Other"):
        project = services.project_create(user=user, name=name, instructions="Answer.", team=team)
        for number in range(10):
            data = file_text(words, weights, args.passages // 10, rng).encode()
            services.project_file_add(user=user, project=project, name=f"part-{number}.md", data=data)
        projects.append(project)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    measured = projects[0]
    count = ProjectPassage.objects.filter(project=measured).count()
    print(
        f"{connection.vendor}: {count:,} passages in the project ({count * 2:,} in all), "
        f"filled in {time.perf_counter() - started:.0f} s; {settings.CHAT_PROJECT_PASSAGES} passages at most"
    )
    questions = {
        "rare words": f"What does {words[15_000]} say about {words[18_000]}?",
        "middling words": f"How is {words[300]} related to {words[700]} and {words[1_200]}?",
        "common words": f"Why {words[2]} {words[5]} {words[9]}?",
        "a long question (16 words)": " ".join(words[100:116]),
        "no match": "What about zzzqx?",
    }
    for label, question in questions.items():
        found = retrieval.search_results(measured.pk, question)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            retrieval.search_results(measured.pk, question)
            times.append((time.perf_counter() - start) * 1000)
        passages = sum(block["type"] == "search_result" for block in found)
        print(
            f"  {label:<28} {statistics.median(times):6.2f} ms ({min(times):.2f}, {max(times):.2f})"
            f"  {passages} passages"
        )


if __name__ == "__main__":
    main()
