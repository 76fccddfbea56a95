"""Operations: rolling-horizon allocation of staff, beds and mobile units across a network."""
