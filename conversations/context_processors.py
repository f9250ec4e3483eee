from django.conf import settings


def chat(request) -> dict:
    return {"allow_signup": settings.CHAT_ALLOW_SIGNUP}
