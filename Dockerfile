# capplan runtime image: the CLI with WeasyPrint's system libraries and fonts.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY forecasting ./forecasting
COPY report_templates ./report_templates
RUN pip install --no-cache-dir --no-deps .

RUN useradd --create-home --uid 10001 capplan
USER capplan
WORKDIR /home/capplan
ENV MPLBACKEND=Agg
ENTRYPOINT ["capplan"]
CMD ["--help"]
