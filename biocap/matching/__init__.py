"""1:1 comparators, batched 1:N kernels, galleries, score fusion."""
