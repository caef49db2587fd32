def name_for(part: str) -> str:
    return f"own{part}"
