# FILE DROP under gunicorn. Built by docker-compose.yml; no secrets baked in.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py create_bucket.py gunicorn.conf.py ./
COPY filedrop ./filedrop
USER nobody
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["gunicorn", "filedrop.wsgi:app"]
