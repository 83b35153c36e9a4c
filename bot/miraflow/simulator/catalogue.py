"""The stock avatars and voices every simulated account sees."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StockAvatar:
    id: str
    name: str
    gender: str
    language: str
    # "photo" avatars animate a still picture (``im2vid_full`` applies); "video" ones a clip.
    type: str


@dataclass(frozen=True, slots=True)
class StockVoice:
    id: str
    name: str
    gender: str
    language: str
    accent: str


STOCK_AVATARS: tuple[StockAvatar, ...] = (
    StockAvatar("cm4ujzde8gxd6ncf10epf91dh", "Ava", "female", "en-US", "video"),
    StockAvatar("cm4odzdoc9is0j8ht9lgmxg9e", "Marcus", "male", "en-US", "video"),
    StockAvatar("cm4dn581u33xtplpft75v2seh", "Léa", "female", "fr-FR", "video"),
    StockAvatar("cm460kvj50ce9uvw53efr4edt", "Kenji", "male", "ja-JP", "photo"),
    StockAvatar("cm42sywb3wkh5dnsipzz5fk2z", "Sofia", "female", "es-ES", "photo"),
    StockAvatar("cm49ri19r0wyojfljooa5lqsa", "Noah", "male", "en-GB", "photo"),
)

STOCK_VOICES: tuple[StockVoice, ...] = (
    StockVoice("cm4j08xui6d39zzzzg4zdmen2", "Aria", "female", "en-US", "American"),
    StockVoice("cm4khvdgaj8gxbenyjqwx4hh5", "Brian", "male", "en-US", "American"),
    StockVoice("cm4344tfjgvq4k7bn7xj8b7tf", "Charlotte", "female", "en-GB", "British"),
    StockVoice("cm4q7xkwo886vompzom75wbbr", "Oliver", "male", "en-GB", "British"),
    StockVoice("cm44qmw2wxfogo4mvn4a4wfhy", "Camille", "female", "fr-FR", "Parisian"),
    StockVoice("cm4m4l1vfz3zfkkibj3j4wj99", "Mateo", "male", "es-ES", "Castilian"),
    StockVoice("cm4ibag7i1mnbqns6puq80idw", "Hana", "female", "ja-JP", "Tokyo"),
    StockVoice("cm43706i8j76b2lajlj4h9du7", "Lukas", "male", "de-DE", "Standard"),
)

AVATARS_BY_ID = {avatar.id: avatar for avatar in STOCK_AVATARS}
VOICES_BY_ID = {voice.id: voice for voice in STOCK_VOICES}


def avatar_body(avatar: StockAvatar, preview_url: str) -> dict[str, object]:
    return {
        "id": avatar.id,
        "name": avatar.name,
        "gender": avatar.gender,
        "language": avatar.language,
        "type": avatar.type,
        "isStock": True,
        "previewUrl": preview_url,
    }


def voice_body(voice: StockVoice) -> dict[str, object]:
    return {
        "id": voice.id,
        "name": voice.name,
        "gender": voice.gender,
        "language": voice.language,
        "accent": voice.accent,
        "isStock": True,
    }
