"""`basicsr-adapt`: adapt a generalist SR model to a folder of the user's own LR photos with PDD, then report
and export."""
