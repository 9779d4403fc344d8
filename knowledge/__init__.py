"""The tenant's knowledge base for the AI (issue 14): Q&A, price list, delivery rules by city, terms."""
