"""WSGI entry point: ``gunicorn app:app``; ``python app.py`` for local use."""

from filedrop import create_app

app = create_app()

if __name__ == "__main__":
    from filedrop.http.context import get_settings
    from filedrop.http.server_errors import JsonErrorRequestHandler

    with app.app_context():
        port = get_settings().port
    app.run(host="127.0.0.1", port=port, threaded=True, request_handler=JsonErrorRequestHandler)
