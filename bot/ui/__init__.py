"""What users see: status lines, result embeds and buttons."""
