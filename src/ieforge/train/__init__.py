"""Training compact IE models: supervised fine-tuning, preference pairs and DPO (ADELIE's alignment)."""
