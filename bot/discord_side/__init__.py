"""The Discord side of the bot: what the job engine hands out, shown to people on Discord."""
