"""amoCRM sync: new amoCRM deals become our leads (intake), our leads' changes go back to amoCRM (write-back).
The business rules of that flow; integrations.amocrm is the HTTP client it uses."""
