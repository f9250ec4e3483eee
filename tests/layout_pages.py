"""The pages a person visits, seeded with awkward data, for the layout and accessibility browser tests.

``SEED`` runs inside the live app (``manage.py shell -c``): 30 conversations whose 100-character
titles hold an 80-character unbroken word, one of them with a reply carrying a long code line and
a table (shared with the team), a team and a team prompt with long names, a memory note named by the
long word, and a staff user ``root``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.live import LiveApp

STAFF = ("root", "root-pass-123")
LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" + "Antidisestablishmentarianism" + "Floccin"
assert len(LONG_WORD) == 80
# "Chat 07 " + the word + " plus a tail": exactly 100 characters.
TITLE_TEMPLATE = "Chat {i:02d} " + LONG_WORD + " plus a tail"
assert len(TITLE_TEMPLATE.format(i=7)) == 100

REPLY = f"""Here is a summary with a long word: {LONG_WORD}{LONG_WORD}.

```python
def measure(layout):  # a long line that must scroll inside its own box, never the page: {LONG_WORD}
    return layout.width
```

| Column | Another column with a long header |
|---|---|
| {LONG_WORD} | value |
"""

SEED = f"""
from django.contrib.auth import get_user_model
from conversations.models import Conversation, ContentBlock, Message
from conversations.rendering import render_markdown
from teams.services import prompt_create, team_create

User = get_user_model()
alice = User.objects.get(username="alice")
User.objects.create_superuser({STAFF[0]!r}, "root@example.com", {STAFF[1]!r})
model = "claude-sonnet-4-6"
for i in range(30):
    c = Conversation.objects.create(owner=alice, title={TITLE_TEMPLATE!r}.format(i=i), model=model)
question = "Summarise {LONG_WORD}{LONG_WORD}"
user = Message.objects.create(conversation=c, role="user", status="complete")
ContentBlock.objects.create(message=user, index=0, type="text", payload={{"type": "text", "text": question}})
reply = Message.objects.create(
    conversation=c, parent=user, role="assistant", status="complete", model=model,
    stop_reason="end_turn", input_tokens=1200, output_tokens=300,
)
answer = {REPLY!r}
ContentBlock.objects.create(
    message=reply, index=0, type="text", payload={{"type": "text", "text": answer}},
    rendered=render_markdown(answer),
)
team = team_create(user=alice, name="Team " + {LONG_WORD!r})
prompt_name = "Prompt " + {LONG_WORD[:60]!r}
prompt_create(user=alice, name=prompt_name, text="Be brief. " + {LONG_WORD!r}, team=team, cache_ttl="5m")
from conversations.library.sharing import share_create
share = share_create(conversation=c, team=team)
from memory.models import MemoryFile
MemoryFile.objects.create(
    owner=alice, path="/memories/" + {LONG_WORD!r} + ".md", content="Likes " + {LONG_WORD!r} + "\\n" * 3
)
print(c.pk, team.pk, team.prompts.first().pk, share.pk)
"""


@dataclass
class Seeded:
    conversation: int  # the conversation with messages (the newest)
    team: int
    prompt: int
    share: int  # the conversation with messages, shared with the team

    def pages(self) -> dict[str, tuple[str, str | None]]:
        """Page name -> (path, user to log in as; None for a signed-out page)."""
        return {
            "login": ("/accounts/login/", None),
            "signup": ("/accounts/signup/", None),
            "new chat": ("/new/", "alice"),
            "conversation": (f"/c/{self.conversation}/", "alice"),
            "prompts": ("/prompts/", "alice"),
            "prompt detail": (f"/prompts/{self.prompt}/", "alice"),
            "prompt form": (f"/prompts/{self.prompt}/edit/", "alice"),
            "teams": ("/teams/", "alice"),
            "team detail": (f"/teams/{self.team}/", "alice"),
            "my reviews": ("/account/reviews/", "alice"),
            "export and import": ("/import/", "alice"),
            "shared with me": ("/shared/", "alice"),
            "shared snapshot": (f"/shared/{self.share}/", "alice"),
            "memory": ("/memory/", "alice"),
            "usage": ("/usage/", "root"),
            "review list": ("/review/", "root"),
            "review transcript": (f"/review/{self.conversation}/", "root"),  # opened by a POST
            "account": ("/accounts/me/", "alice"),
            "invite": ("/accounts/invite/", "root"),
        }


def seed(app: LiveApp) -> Seeded:
    """Seed a started app; its manage.py shell prints the ids the pages need."""
    conversation, team, prompt, share = (int(x) for x in app.shell(SEED).split()[-4:])
    return Seeded(conversation, team, prompt, share)
