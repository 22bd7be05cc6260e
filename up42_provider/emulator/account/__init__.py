"""The account domain: sign-in of both generations, project and settings, credits and budgets."""
