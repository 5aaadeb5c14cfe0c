"""``python app.py`` serves FILE DROP for local use; ``gunicorn app:app`` works too
(the application itself is :mod:`filedrop.wsgi`)."""

from filedrop.wsgi import app

if __name__ == "__main__":
    from filedrop.devserver import serve

    serve(app)
