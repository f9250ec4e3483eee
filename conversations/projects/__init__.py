"""Projects: a team's (or one person's) instructions and knowledge files, sent with every chat
started in the project as a cached prefix (knowledge.py), and the pages to manage them (views.py).

Who may do what: the project's owner alone, or the members of its team, open it and chat in it; the
team's owners and editors change its instructions and files; anyone else gets 404 (selectors.py).
"""
