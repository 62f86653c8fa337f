"""gTTS's language list, in part (gTTS names Hebrew 'iw' and Javanese 'jw')."""


def tts_langs() -> dict[str, str]:
    return {
        "en": "English",
        "fr": "French",
        "de": "German",
        "iw": "Hebrew",
        "jw": "Javanese",
        "zh-CN": "Chinese (Simplified)",
        "zh": "Chinese (Mandarin)",
    }
