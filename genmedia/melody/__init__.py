"""Melodies: MIDI in and out, the MusicVAE-style token grid, the recurrent VAE and a WAV synthesiser."""
