"""Training: the paper's recipe (Sec. 3.4) on cached frozen-backbone features."""
