"""datrig's own bit-accurate fixed-point emulator of the generated firmware."""
