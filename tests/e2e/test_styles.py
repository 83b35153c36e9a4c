"""The `style` option of /imagine and /edit: this server's styles, added to the prompts."""

from __future__ import annotations

import io

from PIL import Image


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def only_params(sim):
    (job,) = sim.jobs.values()
    return job.params


async def test_style_autocompletes_this_servers_styles(fd, bot):
    bot.guild_settings.put_style(fd.guild_id, "watercolor", "soft watercolor", "ink")
    bot.guild_settings.put_style(fd.guild_id, "neon", "neon noir", None)

    everything = await fd.autocomplete("imagine", {"prompt": "a cat", "style": ""}, focused="style")
    assert sorted(choice["value"] for choice in everything) == ["neon", "watercolor"]
    typed = await fd.autocomplete("edit", {"prompt": "a cat", "style": "wat"}, focused="style")
    assert [choice["value"] for choice in typed] == ["watercolor"]
    assert "soft watercolor" in typed[0]["name"]


async def test_imagine_with_a_style_adds_its_words_and_names_it(fd, sim, bot):
    bot.guild_settings.put_style(fd.guild_id, "watercolor", "soft watercolor", "ink")
    inter = await fd.invoke(
        "imagine",
        {"prompt": "a lighthouse", "negative_prompt": "boats", "style": "Watercolor"},
        user=fd.users.alice,
    )
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content

    params = only_params(sim)
    assert params["prompt"] == "a lighthouse, soft watercolor"
    assert params["negativePrompt"] == "boats, ink"
    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    fields = {f["name"]: f["value"] for f in result.embeds[0]["fields"]}
    assert fields["Style"] == "watercolor"
    assert bot.store.get(1).request.style == "watercolor"


async def test_edit_with_a_style_adds_its_words(fd, sim, bot):
    bot.guild_settings.put_style(fd.guild_id, "neon", "neon noir", None)
    inter = await fd.invoke(
        "edit",
        {"prompt": "make it night", "style": "neon"},
        user=fd.users.alice,
        attachments={"image": ("cat.png", png(), "image/png")},
    )
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    params = only_params(sim)
    assert params["prompt"] == "make it night, neon noir"
    assert "negativePrompt" not in params or not params["negativePrompt"]
    result = await fd.wait_for_message(lambda m: bool(m.files) and m.embeds, timeout=15)
    fields = {f["name"]: f["value"] for f in result.embeds[0]["fields"]}
    assert fields["Style"] == "neon"
    assert bot.store.get(1).request.style == "neon"
