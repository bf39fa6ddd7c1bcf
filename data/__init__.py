"""Task data: the examples a space trains on and is scored on, their readers, the tokenizer and
made-on-the-machine speech."""
