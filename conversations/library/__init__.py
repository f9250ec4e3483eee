"""A person's conversations as a library: the sidebar and search, organising (pin, archive, delete),
export and import, and sharing with a team.
"""
