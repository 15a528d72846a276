"""What one service promises another: the shapes they exchange and the clients
that call each other's internal APIs.

The rest of shared/ is platform (settings, database, errors, the API, money,
languages, ...): it knows no service. What is here knows exactly one, and
every other service uses it the same way.
"""
