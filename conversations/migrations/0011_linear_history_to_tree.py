"""Linear conversations, where a regenerated reply or an edited message was kept `superseded`,
become trees: each message follows its parent, versions of a turn are siblings, and what the page
showed (the messages not superseded) is the chosen branch.

The old history is replayed in id order. A reply answers the last question on the branch (a
regenerated one replaces the reply there). A question follows the end of the branch, unless the
last question on the branch was superseded: only an edit supersedes a question, and it adds its new
version at once, so this question is that edit and follows what the old version followed.
Every message is chosen when it was made, so the newest version of each turn is the chosen one.
"""

from django.db import migrations

BATCH = 500


def _link(messages: list) -> None:
    """Set `parent_id` on each of one conversation's messages (given in id order)."""
    branch: list = []  # the branch as the old page showed it at this point of the history
    questions: list[int] = []  # where the user's messages are on it
    for message in messages:
        if message.role == "assistant":
            if questions:
                del branch[questions[-1] + 1 :]
        elif questions and branch[questions[-1]].superseded:
            del branch[questions.pop() :]
        message.parent_id = branch[-1].pk if branch else None
        message.chosen_at = message.created_at
        if message.role == "user":
            questions.append(len(branch))
        branch.append(message)


def linear_to_tree(apps, schema_editor) -> None:
    Conversation = apps.get_model("conversations", "Conversation")
    Message = apps.get_model("conversations", "Message")
    for conversation_id in Conversation.objects.values_list("id", flat=True).iterator():
        messages = list(
            Message.objects.filter(conversation_id=conversation_id)
            .order_by("id")
            .only("id", "role", "superseded", "created_at")
        )
        _link(messages)
        Message.objects.bulk_update(messages, ["parent", "chosen_at"], batch_size=BATCH)


def tree_to_linear(apps, schema_editor) -> None:
    """Back: what is off the chosen branch is `superseded` (shown folded, never sent)."""
    Message = apps.get_model("conversations", "Message")
    Conversation = apps.get_model("conversations", "Conversation")
    for conversation_id in Conversation.objects.values_list("id", flat=True).iterator():
        rows = list(
            Message.objects.filter(conversation_id=conversation_id).values_list(
                "id", "parent_id", "chosen_at"
            )
        )
        children: dict = {}
        for message_id, parent_id, chosen_at in rows:
            children.setdefault(parent_id, []).append((chosen_at, message_id))
        chosen, node = set(), None
        while children.get(node):
            node = max(children[node])[1]
            chosen.add(node)
        Message.objects.filter(conversation_id=conversation_id).exclude(pk__in=chosen).update(superseded=True)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0010_message_tree"),
    ]

    operations = [
        migrations.RunPython(linear_to_tree, tree_to_linear),
    ]
