"""The `<id:...>` path converter: a database id in a URL. Registered once, in ConversationsConfig.ready()."""

# 18 digits always fit in a signed 64-bit integer (2**63 - 1 has 19); anything longer matches no route
# (404) instead of reaching the database, where it would overflow (500).
MAX_ID = 10**18 - 1


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
