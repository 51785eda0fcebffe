from kokanee.cli import app

app()
