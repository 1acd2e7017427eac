from django import template

from ..models import Frequency, OpenType

register = template.Library()


@register.filter
def open_type_label(value):
    return OpenType(value).label if value in OpenType.values else value


@register.filter
def frequency_label(value):
    return Frequency(value).label if value in Frequency.values else value
