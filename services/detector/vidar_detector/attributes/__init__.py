"""What a detection looks like, in words a person searches by: a face's age, gender, emotion and
mask (`faces`), a body's top and bottom colours and a car's colour (`colors`). Each is computed
from one crop; which crops of a track are described is the caller's choice."""
