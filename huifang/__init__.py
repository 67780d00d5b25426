"""huifang (回访): the CLI and the composition root that wires config → engine → services."""
