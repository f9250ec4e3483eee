"""What each model can take as input. Unknown Claude models are assumed to read images and PDFs."""

from django.conf import settings


def reads_files(model: str) -> bool:
    """Images and PDFs. The embedded SmolLM2 model reads text only."""
    return model != settings.CHAT_LOCAL_MODEL_NAME
