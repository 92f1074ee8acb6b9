"""Training the judges' models (``feesvc judges train``) from the development corpora."""
